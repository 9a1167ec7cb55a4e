"""Wire formats. Each dialect knows one format only; cross-format traffic meets in the IR."""
