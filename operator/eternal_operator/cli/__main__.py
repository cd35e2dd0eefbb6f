import sys

from eternal_operator.cli.main import main

sys.exit(main())
