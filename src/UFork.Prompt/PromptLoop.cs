using System.Runtime.CompilerServices;
using UFork.Control;
using UFork.Hosting;
using UFork.Supervision;

namespace UFork.Prompt;

/// <summary>
/// The <c>ufork&gt;</c> prompt over a serving arbiter, on a thread of its own: a line naming a command
/// of the one command set goes to the <see cref="CommandExecutor"/>, anything else is C#. Ctrl-D closes
/// the prompt and serving goes on; Ctrl-C (a signal, handled by the caller, or a key) stops the arbiter.
/// Ctrl-Z stops the whole job as usual; in the background the prompt neither reads nor draws, and
/// <c>fg</c> brings it back, drawn again as it was.
/// </summary>
internal sealed class PromptLoop : IShownConsole
{
    private readonly Arbiter _arbiter;
    private readonly PromptLine _line;
    private readonly CommandExecutor _commands;
    private readonly TerminalKeys _keys = new();
    private readonly Thread _thread;
    private readonly IJobControl _signals;
    private CSharpEvaluator? _csharp;

    private PromptLoop(Arbiter arbiter, PromptLine line, IJobControl signals)
    {
        _arbiter = arbiter;
        _line = line;
        _signals = signals;
        _commands = new CommandExecutor(arbiter.Actor, arbiter.Settings);
        _thread = new Thread(Run) { IsBackground = true, Name = "ufork-prompt" };
    }

    /// <summary>Shows the prompt when a person is at the terminal; null (and nothing reads stdin) otherwise.</summary>
    public static PromptLoop? ShowIfInteractive(Arbiter arbiter, PromptLine line, IJobControl signals)
    {
        if (!Terminal.IsInteractive)
            return null;
        var prompt = new PromptLoop(arbiter, line, signals);
        signals.ContinuedInForeground += prompt.TakeTerminalBack;
        prompt._thread.Start();
        return prompt;
    }

    private void TakeTerminalBack()
    {
        _keys.Wake();
        _line.Redraw();
    }

    /// <summary>Takes the prompt away at once (leaving the line as typed); any C# still running finishes on its own.</summary>
    public void Close()
    {
        _keys.Close();
        _line.Finish();
    }

    public void Dispose()
    {
        _signals.ContinuedInForeground -= TakeTerminalBack;
        Close();
        // Waiting for keys, the thread ends at once; still in a C# line, it is left to finish, and must keep the pipe.
        if (_thread.Join(TimeSpan.FromSeconds(1)))
            _keys.Dispose();
    }

    private void Run()
    {
        try
        {
            Serve();
        }
        catch (Exception e)
        {
            // The prompt is a convenience: losing it must not take the arbiter (or the REPL hosting it) down.
            _line.Finish();
            _line.WriteAbove($"[ufork] error: the prompt failed and is closed; still serving (Ctrl-C stops): {e.Message}");
        }
    }

    private void Serve()
    {
        var editor = new LineEditor(_line, _keys, ArbiterCommand.Names.ToList());
        while (!_arbiter.Stopped.IsCompleted)
        {
            var (end, text) = editor.ReadLine();
            switch (end)
            {
                case LineEnd.Enter when ArbiterCommand.Parse(text).Message is Shutdown:
                    _line.WriteAbove(_commands.ExecuteAsync(text).GetAwaiter().GetResult().Output);
                    return; // nothing left to steer
                case LineEnd.Enter when !string.IsNullOrWhiteSpace(text):
                    if (Execute(text) is { Length: > 0 } reply)
                        _line.WriteAbove(reply);
                    break;
                case LineEnd.EndOfInput:
                    _line.WriteAbove("[ufork] prompt closed; still serving (Ctrl-C stops)");
                    return;
                case LineEnd.Interrupt:
                    _ = _arbiter.StopAsync();
                    return;
                case LineEnd.Closed:
                    return;
            }
        }
    }

    private string? Execute(string line) =>
        ArbiterCommand.IsCommand(line) ? _commands.ExecuteAsync(line).GetAwaiter().GetResult().Output : Evaluate(line);

    // Not inlined, so that compiling Run never loads Roslyn: only the first C# line does.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private string? Evaluate(string code) => (_csharp ??= new CSharpEvaluator(_arbiter)).EvaluateAsync(code).GetAwaiter().GetResult();
}
