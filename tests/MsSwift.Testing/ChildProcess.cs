using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;

namespace MsSwift.Testing;

/// <summary>
/// A real server process started for a test (redis-server, the Kafka dev broker). Disposing it
/// kills the process tree and waits for it to exit, so no test leaves a process behind.
/// </summary>
public abstract class ChildProcess : IAsyncDisposable
{
    // Children not disposed yet. xunit never disposes a fixture whose initialisation threw, so
    // whatever is still alive when the test host exits is killed then, not left running.
    private static readonly ConcurrentDictionary<ChildProcess, byte> Alive = new();

    private readonly Process _process;
    private readonly List<string> _output = [];

    static ChildProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var child in Alive.Keys)
        {
            child.KillAtExit();
        }
    };

    /// <param name="fileName">The program.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="environment">Variables to set on top of this process's environment.</param>
    /// <param name="workingDirectory">Where it runs (ASP.NET Core services find their appsettings.json there); default: here.</param>
    protected ChildProcess(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var startInfo = new ProcessStartInfo(fileName, arguments)
        {
            WorkingDirectory = workingDirectory ?? "",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            startInfo.Environment[name] = value;
        }

        _process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.Start();
        Alive.TryAdd(this, 0);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything the process printed so far, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join(Environment.NewLine, _output);
            }
        }
    }

    protected virtual void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
        }
    }

    /// <summary>
    /// Starts what <paramref name="start"/> creates, once more on fresh ports when a port it was
    /// given was taken meanwhile: between <see cref="FreeTcpPort"/>'s check and the child's bind,
    /// another process (a parallel test project, Aspire's proxies) can take it.
    /// </summary>
    protected static async Task<T> WithFreshPortsOnClashAsync<T>(Func<Task<T>> start)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await start();
            }
            catch (InvalidOperationException error) when (attempt < 3 && error.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
            }
        }
    }

    /// <summary>Returns <paramref name="process"/> once it accepts connections on <paramref name="port"/>; kills it if it never does.</summary>
    protected static async Task<T> ListeningAsync<T>(T process, int port, TimeSpan timeout) where T : ChildProcess
    {
        try
        {
            await process.WaitForPortAsync(port, timeout);
            return process;
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    private async Task WaitForPortAsync(int port, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{_process.StartInfo.FileName} exited with {_process.ExitCode} before listening:{Environment.NewLine}{Output}");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port, cts.Token);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{_process.StartInfo.FileName} did not listen on {port} within {timeout}:{Environment.NewLine}{Output}");
            }
        }
    }

    /// <summary>Waits for the process to end by itself (after asking it to stop); kills it if it does not within <paramref name="timeout"/>.</summary>
    protected async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{_process.StartInfo.FileName} did not exit within {timeout}:{Environment.NewLine}{Output}");
        }
    }

    /// <summary>SIGKILL: no shutdown hooks run, as when a machine dies.</summary>
    protected void KillNow()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    private void KillAtExit()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (Exception error) when (error is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    public virtual async ValueTask DisposeAsync()
    {
        Alive.TryRemove(this, out _);
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        GC.SuppressFinalize(this);
    }
}
