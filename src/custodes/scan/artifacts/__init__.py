"""Model files that run code when loaded: detected from content, walked without loading.

One module per format family (pickle and its relatives, Keras, TF SavedModel, ONNX,
safetensors, GGUF), sharing format sniffing (``sniff``) and a bounded zip reader
(``zipsafe``). Each exposes a Scanner the engine's registry names.
"""
