# The types of `authgate.openapi`, the module's old path: at run time it is `authgate.api.schema`
# itself (authgate._moved), which has no file here for a type checker to read.
from authgate.api.schema import *
