from finegrain.cli.main import main

raise SystemExit(main())
