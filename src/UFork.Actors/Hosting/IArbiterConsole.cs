using UFork.Output;

namespace UFork.Hosting;

/// <summary>
/// What a person at the terminal gets of a serving arbiter besides its output: the <c>ufork&gt;</c>
/// prompt, which the UFork.Prompt package provides (<c>UForkPrompt</c>), kept out of this package so that
/// supervising a command does not load a line editor and Roslyn. One instance serves one arbiter.
/// </summary>
public interface IArbiterConsole
{
    /// <summary>The arbiter's output, made to go around whatever the console draws; every line of the arbiter goes through it.</summary>
    IOutputSink Around(IOutputSink output);

    /// <summary>Shows the console while <paramref name="arbiter"/> serves, when a person is at the terminal; null otherwise.</summary>
    IShownConsole? Show(Arbiter arbiter, IJobControl jobControl);
}

/// <summary>A console on the terminal; disposed once the arbiter has stopped.</summary>
public interface IShownConsole : IDisposable
{
    /// <summary>Takes the console away at once, when the arbiter begins to stop (TERM, INT, QUIT); called from a signal handler.</summary>
    void Close();
}

/// <summary>The terminal's job control, as far as a console must follow it.</summary>
public interface IJobControl
{
    /// <summary>On CONT in the foreground of the terminal (<c>fg</c>): whatever was drawn is drawn again.</summary>
    event Action? ContinuedInForeground;
}
