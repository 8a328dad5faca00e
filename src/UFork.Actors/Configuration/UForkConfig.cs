using Akka.Configuration;

namespace UFork.Configuration;

/// <summary>Loads uFork's HOCON: the embedded defaults, and files given with --config over them.</summary>
public static class UForkConfig
{
    public static Config Defaults { get; } = LoadDefaults();

    /// <summary>Parses a HOCON file over the defaults; any problem is one <see cref="UForkConfigException"/>.</summary>
    public static Config LoadFile(string path)
    {
        if (!File.Exists(path))
            throw new UForkConfigException($"config file {path} does not exist");
        try
        {
            return ConfigurationFactory.ParseString(File.ReadAllText(path)).WithFallback(Defaults);
        }
        catch (Exception e) when (e is not UForkConfigException)
        {
            throw new UForkConfigException($"config file {path} does not parse: {FirstLine(e.Message)}");
        }
    }

    private static Config LoadDefaults()
    {
        using var stream = typeof(UForkConfig).Assembly.GetManifestResourceStream("UFork.reference.conf")
            ?? throw new InvalidOperationException("reference.conf is not embedded in UFork.Actors");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}

/// <summary>A configuration problem, worded for the person who wrote the configuration.</summary>
public sealed class UForkConfigException(string message) : Exception(message);
