"""
Where `authgate.names` was first published: every name here is the very object of
`authgate.names` (how login names compare and look alike), re-exported so that older
imports keep working.
"""

from ..names import fold as fold
from ..names import lookalikes as lookalikes
from ..names import prototypes as prototypes
from ..names import same as same
from ..names import skeleton as skeleton
