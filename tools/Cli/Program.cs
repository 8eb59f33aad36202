using MsSwift.Cli;
using MsSwift.Cli.Infrastructure;

// Ctrl+C cancels the running command instead of killing the process, so a watch can detach
// cleanly and say how to re-attach. A second Ctrl+C falls through and ends the process.
using var interrupt = new CancellationTokenSource();
Console.CancelKeyPress += (_, press) =>
{
    press.Cancel = !interrupt.IsCancellationRequested;
    interrupt.Cancel();
};

return await CliApp.RunAsync(args, CliEnvironment.FromProcess(), interrupt.Token);
