namespace UFork.Configuration;

/// <summary>How many one-letter edits turn one word into another, a swap of neighbours counting as one.</summary>
public static class EditDistance
{
    /// <summary>
    /// The one of <paramref name="names"/> that <paramref name="word"/> is most likely a slip for: one it
    /// begins, or one at most two edits away; null when none is near enough to suggest.
    /// </summary>
    public static string? NearestOf(string word, IEnumerable<string> names) =>
        names.Select(name => (Name: name, Distance: name.StartsWith(word, StringComparison.OrdinalIgnoreCase) && word.Length >= 2 ? 0 : Between(word, name)))
            .Where(n => n.Distance <= Math.Min(2, Math.Max(1, word.Length / 3)))
            .OrderBy(n => n.Distance)
            .Select(n => n.Name)
            .FirstOrDefault();

    /// <summary>The optimal string alignment distance of <paramref name="a"/> and <paramref name="b"/>, ignoring case.</summary>
    public static int Between(string a, string b)
    {
        a = a.ToLowerInvariant();
        b = b.ToLowerInvariant();
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
            d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++)
            d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + substitution);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
