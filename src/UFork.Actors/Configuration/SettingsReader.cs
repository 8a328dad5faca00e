using System.Globalization;
using Akka.Configuration;

namespace UFork.Configuration;

/// <summary>Reads the keys of the <c>ufork</c> section, turning any bad value into one line that names its key.</summary>
internal sealed class SettingsReader(Config section)
{
    /// <summary>No duration goes past a day: .NET timers break past int.MaxValue ms (24.8 days), and no wait of uFork's needs more.</summary>
    public static readonly TimeSpan LongestDuration = TimeSpan.FromDays(1);

    /// <summary>The value as written, for messages.</summary>
    public string Raw(string key) => section.GetString(key)?.Trim() ?? "";

    public T Read<T>(string key, string expected, Func<string, T> parse, Func<T, bool> valid)
    {
        var raw = Raw(key);
        try
        {
            var value = parse(raw);
            if (valid(value))
                return value;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ConfigurationException or ArgumentException)
        {
        }
        throw new UForkConfigException($"{UForkKeys.Root}.{key} must be {expected}, not '{raw}'");
    }

    /// <summary>
    /// A duration from <paramref name="shortest"/> to <see cref="LongestDuration"/>. It must carry a unit
    /// (but 0 needs none): Akka reads a bare number as milliseconds, which is never what "grace = 10" meant.
    /// </summary>
    public TimeSpan Duration(string key, TimeSpan shortest)
    {
        var raw = Raw(key);
        if (double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && number != 0)
            throw new UForkConfigException($"{UForkKeys.Root}.{key} = {raw} has no unit: write {raw}s or {raw}ms");
        var duration = Read(key, "a duration such as 500ms or 10s", _ => section.GetTimeSpan(key, allowInfinite: false), _ => true);
        if (duration < shortest || duration > LongestDuration)
            throw new UForkConfigException(
                $"{UForkKeys.Root}.{key} must be from {Describe(shortest)} to {Describe(LongestDuration)}, not '{raw}'");
        return duration;
    }

    /// <summary>An absolute path, relative ones taken from the working directory; "" for none.</summary>
    public string? OptionalPath(string key) =>
        Read<string?>(key, "a file path", raw => raw == "" ? null : Path.GetFullPath(raw), _ => true);

    public long Size(string key) =>
        Read(key, "a size such as 512MiB", _ => section.GetByteSize(key) ?? throw new FormatException(), n => n > 0);

    public bool Switch(string key) => Read(key, "on or off", ParseSwitch, _ => true);

    public int PositiveInteger(string key) => Read(key, "a positive integer", int.Parse, n => n > 0);

    /// <summary>Two settings that make sense alone but not together.</summary>
    public void Require(bool consistent, string firstKey, string relation, string secondKey)
    {
        if (!consistent)
            throw new UForkConfigException(
                $"{UForkKeys.Root}.{firstKey} ({Raw(firstKey)}) must be {relation} {UForkKeys.Root}.{secondKey} ({Raw(secondKey)})");
    }

    private static bool ParseSwitch(string raw) => raw switch
    {
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        _ => throw new FormatException(),
    };

    private static string Describe(TimeSpan duration) =>
        duration == TimeSpan.Zero ? "0s"
        : duration.TotalDays >= 1 && duration.TotalDays % 1 == 0 ? $"{duration.TotalDays}d"
        : duration.TotalSeconds >= 1 && duration.TotalSeconds % 1 == 0 ? $"{duration.TotalSeconds}s"
        : $"{duration.TotalMilliseconds}ms";
}
