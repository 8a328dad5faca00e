using System.CommandLine;
using UFork.Configuration;
using UFork.Hosting;
using UFork.Sockets;
using UFork.Worker;

namespace UFork.Host.Commands;

/// <summary>
/// Bad input becomes one line on stderr and exit code 2, never a stack trace or a page of help:
/// parse errors, invalid configuration, commands that cannot be run, addresses that cannot be bound.
/// </summary>
internal static class CommandLineErrors
{
    public const int UsageExitCode = 2;

    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        if (args.Length == 0) // a root without a command of its own: what can it do?
            return await root.Parse(["--help"]).InvokeAsync();
        var parsed = root.Parse(args);
        if (UnknownCommand(root, args[0]) is { } unknown)
            return Fail(unknown);
        if (parsed.Errors.Count > 0)
        {
            // "Required command was not provided" comes first for "ufork frobnicate"; the unknown word says more.
            var error = parsed.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized")) ?? parsed.Errors[0];
            return Fail(error.Message);
        }
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is UsageException or UForkConfigException or WorkerCommandException
                                       or ArbiterStartException or ListenSocketException)
        {
            return Fail(e.Message);
        }
    }

    /// <summary>Why the first word names no command, with the one it is likely a slip for; null if it names one.</summary>
    private static string? UnknownCommand(RootCommand root, string word)
    {
        if (word.StartsWith('-') || root.Subcommands.Any(c => c.Name == word))
            return null;
        var visible = root.Subcommands.Where(c => !c.Hidden).Select(c => c.Name);
        return EditDistance.NearestOf(word, visible) is { } nearest
            ? $"unknown command '{word}'; did you mean {nearest}?"
            : $"unknown command '{word}'; try ufork --help";
    }

    public static int Fail(string message)
    {
        Console.Error.WriteLine($"ufork: {message}");
        return UsageExitCode;
    }
}

/// <summary>Input that makes no sense, worded for the person who typed it.</summary>
internal sealed class UsageException(string message) : Exception(message);
