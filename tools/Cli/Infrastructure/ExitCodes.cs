namespace MsSwift.Cli.Infrastructure;

/// <summary>The CLI's exit codes, so scripts can tell what kind of failure happened.</summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The cluster refused or failed the operation (unknown model, invalid request, failed job, ...).</summary>
    public const int Failed = 1;

    /// <summary>The command line is wrong (unknown command or option, bad value).</summary>
    public const int Usage = 2;

    /// <summary>The gateway could not be reached (not running, wrong address).</summary>
    public const int Unreachable = 3;

    /// <summary>The gateway refused the API key, or the key lacks the operation's scope.</summary>
    public const int Unauthorized = 4;

    /// <summary>Ctrl+C interrupted a command that is not a job watch (watches detach and succeed).</summary>
    public const int Interrupted = 130;
}
