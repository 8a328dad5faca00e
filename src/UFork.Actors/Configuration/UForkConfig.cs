using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace UFork.Configuration;

/// <summary>Loads uFork's HOCON: the embedded defaults, and files given with --config over them.</summary>
public static class UForkConfig
{
    /// <summary>The embedded reference.conf: every key uFork knows, with its default.</summary>
    public static Config Defaults { get; } = LoadDefaults();

    /// <summary>
    /// Parses a HOCON file over the defaults and checks it whole: its syntax (with the line of a problem),
    /// its includes (relative to the file), its keys under <c>ufork</c> and its values, as
    /// <see cref="UForkSettings.FromConfig"/> does. Any problem is one <see cref="UForkConfigException"/>
    /// that names the file.
    /// </summary>
    public static Config LoadFile(string path)
    {
        var config = new Config(ParseFile(Path.GetFullPath(path), path, []));
        var withDefaults = config.WithFallback(Defaults);
        try
        {
            UForkSettings.FromConfig(withDefaults);
        }
        catch (UForkConfigException e)
        {
            throw new UForkConfigException($"config file {path}: {e.Message}");
        }
        return withDefaults;
    }

    /// <param name="fullPath">The file, absolute, to resolve its includes from.</param>
    /// <param name="shownPath">The file as the person named it.</param>
    /// <param name="including">The files whose includes led here, to refuse a cycle.</param>
    private static HoconRoot ParseFile(string fullPath, string shownPath, HashSet<string> including)
    {
        var text = Read(fullPath, shownPath);
        if (HoconSyntax.FirstProblem(text) is { } problem)
            throw new UForkConfigException($"config file {shownPath} {problem}");
        including.Add(fullPath);
        try
        {
            return Parser.Parse(text, included => Include(fullPath, shownPath, included, including));
        }
        catch (Exception e) when (e is not UForkConfigException)
        {
            throw new UForkConfigException($"config file {shownPath} does not parse: {FirstLine(e.Message)}");
        }
        finally
        {
            including.Remove(fullPath);
        }
    }

    private static HoconRoot Include(string fullPath, string shownPath, string included, HashSet<string> including)
    {
        var target = Path.GetFullPath(included, Path.GetDirectoryName(fullPath)!);
        if (including.Contains(target))
            throw new UForkConfigException($"config file {shownPath}: include \"{included}\" makes a cycle: {target} is already being read");
        if (!File.Exists(target))
            throw new UForkConfigException($"config file {shownPath}: include \"{included}\": {target} does not exist");
        return ParseFile(target, target, including);
    }

    private static string Read(string fullPath, string shownPath)
    {
        if (!File.Exists(fullPath))
            throw new UForkConfigException($"config file {shownPath} does not exist");
        try
        {
            return File.ReadAllText(fullPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UForkConfigException($"cannot read config file {shownPath}: {FirstLine(e.Message)}");
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
