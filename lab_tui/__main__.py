from lab_tui.cli import main

raise SystemExit(main())
