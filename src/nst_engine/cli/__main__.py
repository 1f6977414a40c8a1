from nst_engine.cli import main

if __name__ == "__main__":  # a Dask worker process re-imports the main module
    main()
