using System.Globalization;
using System.Net.Http;
using System.Text.RegularExpressions;

namespace UFork.Host.Tests.Metrics;

/// <summary>One page of Prometheus text as a scraper reads it: samples by name and labels.</summary>
internal sealed partial class Scrape(string text)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(15) };

    public string Text { get; } = text;

    public static async Task<Scrape> FetchAsync(string url) => new(await Http.GetStringAsync(url));

    /// <summary>Every sample of <paramref name="metric"/> (exactly that name), with its labels.</summary>
    public IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)> Samples(string metric) =>
        Text.Split('\n').Select(line => Sample().Match(line)).Where(m => m.Success && m.Groups["name"].Value == metric)
            .Select(m => ((IReadOnlyDictionary<string, string>)Label().Matches(m.Groups["labels"].Value)
                    .ToDictionary(l => l.Groups[1].Value, l => l.Groups[2].Value),
                double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture)))
            .ToList();

    public double Sum(string metric) => Samples(metric).Sum(s => s.Value);

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})? (?<value>\S+)$")]
    private static partial Regex Sample();

    [GeneratedRegex(@"(\w+)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex Label();
}
