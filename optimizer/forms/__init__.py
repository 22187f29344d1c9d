"""Forms of the optimizer pages. Shapes and types only: the services check the rules, and their errors go beside
the field they name."""
