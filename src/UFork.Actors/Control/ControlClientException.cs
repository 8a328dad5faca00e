namespace UFork.Control;

/// <summary>No arbiter could be asked: nothing listens at the socket, or it did not answer. One line.</summary>
public sealed class ControlClientException(string message) : Exception(message);
