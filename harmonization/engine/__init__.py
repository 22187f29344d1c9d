"""Django-free streaming harmonization engine: retailer exports -> RMIS rows (docs/mapping_guide.md).

The pinned API other modules code against is exported here.
"""

from .limits import NO_LIMITS, InputLimits
from .quality import QualityReport
from .readers import SourceError, check_header_width
from .run import Harmonizer, harmonize_table
from .schema import HARMONIZED_SCHEMA, NATURAL_KEY, QUARANTINE_SCHEMA, Lookups, Progress
from .sinks import MemorySink, ParquetSink, QuarantineCsvWriter, Sink
from .spec import MappingError, MappingSpec, load_mapping, load_mapping_file

__all__ = [
    "HARMONIZED_SCHEMA",
    "NATURAL_KEY",
    "NO_LIMITS",
    "QUARANTINE_SCHEMA",
    "Harmonizer",
    "InputLimits",
    "Lookups",
    "MappingError",
    "MappingSpec",
    "MemorySink",
    "ParquetSink",
    "Progress",
    "QualityReport",
    "QuarantineCsvWriter",
    "Sink",
    "SourceError",
    "check_header_width",
    "harmonize_table",
    "load_mapping",
    "load_mapping_file",
]
