"""What becomes a job: the folder scan, manifests, the shot file, the option checks, output
names, twins (the same job under several names), files in the way, and the dry run."""

from .collect import collect, only_failed, read_failed_jobs
from .columns import COLUMNS, camera
from .jobs import (
    IMAGE_CAMERA_PRESETS,
    LIVE_MODELS,
    BadRow,
    Input,
    build_job,
    defaults_from_options,
    make_input,
)
from .manifest import read_manifest
from .names import check_template, output_name, safe_part
from .options import check_options
from .out_folder import out_folder_problem
from .scan import IMAGE_SUFFIXES, find_images, scan
from .shots import read_shots

__all__ = [
    "COLUMNS",
    "IMAGE_CAMERA_PRESETS",
    "IMAGE_SUFFIXES",
    "LIVE_MODELS",
    "BadRow",
    "Input",
    "build_job",
    "camera",
    "check_options",
    "check_template",
    "collect",
    "defaults_from_options",
    "find_images",
    "make_input",
    "only_failed",
    "out_folder_problem",
    "output_name",
    "read_failed_jobs",
    "read_manifest",
    "read_shots",
    "safe_part",
    "scan",
]
