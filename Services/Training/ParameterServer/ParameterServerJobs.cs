using System.Collections.Concurrent;

namespace MsSwift.Training.ParameterServer;

/// <summary>The jobs this process serves as parameter server.</summary>
public sealed class ParameterServerJobs : IDisposable
{
    private readonly ConcurrentDictionary<string, ParameterServerJob> _jobs = new(StringComparer.Ordinal);

    public void Add(ParameterServerJob job)
    {
        if (!_jobs.TryAdd(job.JobId, job))
        {
            throw new InvalidOperationException($"job '{job.JobId}' already has a parameter server here");
        }
    }

    public ParameterServerJob? Find(string jobId) => _jobs.GetValueOrDefault(jobId);

    /// <summary>Stops serving a job here (the caller disposes it).</summary>
    public void Remove(string jobId) => _jobs.TryRemove(jobId, out _);

    public void Dispose()
    {
        foreach (var job in _jobs.Values)
        {
            job.Dispose();
        }

        _jobs.Clear();
    }
}
