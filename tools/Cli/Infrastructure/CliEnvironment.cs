using Spectre.Console;

namespace MsSwift.Cli.Infrastructure;

/// <summary>
/// What a command may touch outside itself: the console it draws on, where errors go, what it
/// reads interactively, and the environment variables. Tests pass their own, so a command runs in
/// process exactly as from a terminal, without sharing the test host's console or environment.
/// </summary>
internal sealed class CliEnvironment(IAnsiConsole console, TextWriter error, TextReader input, Func<string, string?> variables)
{
    public IAnsiConsole Console { get; } = console;

    /// <summary>Standard error: the one line a failure prints, and hints that must not pollute --json output.</summary>
    public TextWriter Error { get; } = error;

    public TextReader Input { get; } = input;

    public string? Variable(string name) => variables(name);

    /// <summary>Program output that scripts read (JSON, generated text): written as is, never wrapped or styled.</summary>
    public void WriteRaw(string text) => Console.Profile.Out.Writer.Write(text);

    public void WriteRawLine(string text) => Console.Profile.Out.Writer.WriteLine(text);

    public static CliEnvironment FromProcess()
    {
        // Redirected output has no width to fit: tables would fold into 80 columns, so a log or a
        // pipe gets them whole instead.
        if (System.Console.IsOutputRedirected)
        {
            AnsiConsole.Console.Profile.Width = 240;
        }

        return new(AnsiConsole.Console, System.Console.Error, System.Console.In, Environment.GetEnvironmentVariable);
    }
}
