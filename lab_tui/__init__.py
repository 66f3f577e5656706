"""lab-tui: write seed examples, run a flow of teacher-model requests on them (InstructLab's grounded
and freeform skills flows, or any flow written as YAML), review the pairs it made, export them."""

__version__ = "0.1.0"
