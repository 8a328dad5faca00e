using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace UFork.Configuration;

/// <summary>
/// The keys of the <c>ufork</c> subtree, which are exactly those of the embedded reference.conf: anything
/// else under <c>ufork</c>, and a root that looks like a misspelt <c>ufork</c>, is a mistake that HOCON
/// would silently ignore. Other roots (<c>akka</c>, an application's own) are left alone, since the same
/// HOCON may configure the ActorSystem.
/// </summary>
internal static class UForkKeys
{
    public const string Root = "ufork";

    // A root this close to "ufork" (a swap, a missing or doubled letter, a capital) was meant to be it.
    private const int NearMissOfRoot = 2;

    private static readonly Lazy<Known> KnownKeys = new(() => Known.Of(UForkConfig.Defaults));

    /// <summary>Throws a <see cref="UForkConfigException"/> naming the first key of <paramref name="config"/> that uFork does not know.</summary>
    public static void Check(Config config)
    {
        // A Config made WithFallback keeps each layer's own tree; a key may be in any of them.
        for (var layer = config; layer is not null; layer = layer.Fallback)
        {
            if (layer.Root is { } root && root.IsObject())
                CheckRoots(root.GetObject());
        }
    }

    private static void CheckRoots(HoconObject roots)
    {
        foreach (var (name, value) in roots.Items)
        {
            if (name == Root)
            {
                if (!value.IsObject())
                    throw new UForkConfigException($"{Root} must be a section, {Root} {{ ... }}, not '{value}'");
                CheckSection("", value.GetObject());
            }
            else if (EditDistance.Between(name, Root) <= NearMissOfRoot)
            {
                throw new UForkConfigException($"{name} is not a root that uFork knows; did you mean {Root}?");
            }
        }
    }

    private static void CheckSection(string prefix, HoconObject section)
    {
        var known = KnownKeys.Value;
        foreach (var (name, value) in section.Items)
        {
            var path = prefix + name;
            if (known.Sections.Contains(path))
            {
                if (!value.IsObject())
                    throw new UForkConfigException($"{Root}.{path} is a section, {Root}.{path} {{ ... }}, not a value");
                CheckSection(path + ".", value.GetObject());
            }
            else if (known.Settings.Contains(path))
            {
                if (value.IsObject())
                    throw new UForkConfigException($"{Root}.{path} is a setting, not a section");
                if (value.IsArray())
                    throw new UForkConfigException($"{Root}.{path} takes one value, not a list");
            }
            else
            {
                throw new UForkConfigException(Unknown(path, known));
            }
        }
    }

    /// <summary>
    /// The message for an unknown key, with the known key it was most likely meant to be: one a few
    /// letters away (a typo), or one with the same last name in another section (a key put in the wrong place).
    /// </summary>
    private static string Unknown(string path, Known known)
    {
        var leaf = LastName(path);
        var closest = known.Settings.Concat(known.Sections)
            .Select(key => (Key: key, Whole: EditDistance.Between(path, key), Leaf: EditDistance.Between(leaf, LastName(key))))
            .OrderBy(candidate => Math.Min(candidate.Whole, candidate.Leaf))
            .ThenBy(candidate => candidate.Whole)
            .First();
        var likely = Math.Min(closest.Whole, closest.Leaf) <= Math.Max(2, leaf.Length / 3);
        return likely
            ? $"{Root}.{path} is not a uFork setting; did you mean {Root}.{closest.Key}?"
            : $"{Root}.{path} is not a uFork setting (reference.conf lists them all)";
    }

    private static string LastName(string path) => path[(path.LastIndexOf('.') + 1)..];

    /// <summary>The paths under <c>ufork</c>, relative to it: sections (restart) and settings (restart.min-backoff).</summary>
    private sealed record Known(HashSet<string> Sections, HashSet<string> Settings)
    {
        public static Known Of(Config reference)
        {
            var known = new Known([], []);
            known.Add("", reference.Root.GetObject().Items[Root].GetObject());
            return known;
        }

        private void Add(string prefix, HoconObject section)
        {
            foreach (var (name, value) in section.Items)
            {
                if (value.IsObject())
                {
                    Sections.Add(prefix + name);
                    Add(prefix + name + ".", value.GetObject());
                }
                else
                {
                    Settings.Add(prefix + name);
                }
            }
        }
    }
}
