from nst_engine.cli import main

main()
