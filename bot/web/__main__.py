from bot.web.app import main

raise SystemExit(main())
