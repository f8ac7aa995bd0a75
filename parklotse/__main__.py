from parklotse.cli import main

raise SystemExit(main())
