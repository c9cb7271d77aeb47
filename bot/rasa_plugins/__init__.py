"""Components Rasa loads by name: the sentence encoder, the socket.io channel, the lock and
tracker stores."""
