"""Understanding: what a message asks for, the generated Rasa inputs, training and evaluation."""
