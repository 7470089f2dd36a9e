# The types of `authgate.mfa.webauthn.views`, the module's old path: at run time it is `authgate.api.views.webauthn`
# itself (authgate._moved), which has no file here for a type checker to read.
from authgate.api.views.webauthn import *
