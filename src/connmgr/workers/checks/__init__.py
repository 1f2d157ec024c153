"""One module per connection kind; each a small class with the ``Check`` interface."""
