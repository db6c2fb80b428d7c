"""Root-cause analysis: metric frames, lagged correlation graphs, analyses and their summaries."""
