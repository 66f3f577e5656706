"""The one place a teacher profile becomes litellm calls.

- `profiles`: teacher profiles and their endpoints, read from the settings file and checked;
- `slots`: the bound on requests in flight, deeper blocks first;
- `litellm_setup`: litellm imported on first use, its logs redacted, its errors sorted, the Router built;
- `wire`: the HTTP guard (a deadline for each attempt's whole exchange, a cap on what it reads);
- `client`: the `Teacher`, which sends a request until it is answered or has failed for good.

The rest of lab-tui imports from here, not from the modules.
"""

from lab_tui.pipeline.teacher.client import Answer, Stopped, Teacher, TeacherError
from lab_tui.pipeline.teacher.litellm_setup import close_clients, litellm_module, log_file_problem, preload_litellm
from lab_tui.pipeline.teacher.profiles import (DEFAULT_PROFILE, KEYLESS_PLACEHOLDER, Endpoint, ProfileError,
                                               TeacherProfile, load_profile, profile_names)
from lab_tui.pipeline.teacher.slots import PrioritySlots

__all__ = ["Answer", "DEFAULT_PROFILE", "Endpoint", "KEYLESS_PLACEHOLDER", "PrioritySlots", "ProfileError", "Stopped",
           "Teacher", "TeacherError", "TeacherProfile", "close_clients", "litellm_module", "load_profile",
           "log_file_problem", "preload_litellm", "profile_names"]
