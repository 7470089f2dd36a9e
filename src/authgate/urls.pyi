# The types of `authgate.urls`, the module's old path: at run time it is `authgate.api.urls`
# itself (authgate._moved), which has no file here for a type checker to read.
from authgate.api.urls import *
