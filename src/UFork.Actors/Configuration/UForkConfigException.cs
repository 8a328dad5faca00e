namespace UFork.Configuration;

/// <summary>A configuration problem, worded for the person who wrote the configuration.</summary>
public sealed class UForkConfigException(string message) : Exception(message);
