# The types of `authgate.serializers`, the module's old path: at run time it is `authgate.api.serializers`
# itself (authgate._moved), which has no file here for a type checker to read.
from authgate.api.serializers import *
