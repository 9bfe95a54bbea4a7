"""Run directories, HDF5 arrays and figures."""
