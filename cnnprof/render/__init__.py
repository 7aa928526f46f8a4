"""Stage ⑤: results as rich renderables for the terminal, and charts (`charts`, the one matplotlib
gate). Presentation only: nothing here counts or measures."""
