"""The LAB grounded-skills pipeline: prompts, blocks, the flow, the async engine, the teacher."""
