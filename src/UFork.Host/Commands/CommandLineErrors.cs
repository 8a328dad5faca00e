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
        var parsed = root.Parse(args);
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

    public static int Fail(string message)
    {
        Console.Error.WriteLine($"ufork: {message}");
        return UsageExitCode;
    }
}

/// <summary>Input that makes no sense, worded for the person who typed it.</summary>
internal sealed class UsageException(string message) : Exception(message);
