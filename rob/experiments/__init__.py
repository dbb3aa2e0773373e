"""The grids and sweeps of each chapter (one module per chapter), returning tidy DataFrames."""
