"""AWS Bedrock's Converse API (the models Bedrock serves that do not speak Anthropic Messages)."""
