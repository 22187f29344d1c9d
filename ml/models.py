# Models arrive with the feedback and generative-layer issues.
