using System.Diagnostics;
using System.Threading.Channels;
using MsSwift.Modeling.Generation.Scheduling;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Tokenizers;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Generation;

/// <summary>
/// Iteration-level (continuous) batching: one engine thread owns the model and a slot KV cache.
/// Between decode steps, waiting requests are prefilled into free slots and finished sequences
/// leave, so a short answer never waits for a long one and the batch stays full under load.
/// Requests wait in a bounded queue; when it is full, <see cref="Submit"/> refuses at once.
/// <para>
/// Failures stay as small as they can: a sequence whose logits are not finite, or whose sampling
/// fails, fails alone (<see cref="GenerationException"/>) while the rest of the batch goes on. If
/// the model's own forward pass throws, the engine cannot trust its cache or weights: it
/// <em>faults</em>, stops accepting, fails everything queued and running at once, and reports it
/// through <see cref="Fault"/> and <see cref="Stopped"/> so its owner can reload the version.
/// No request is left waiting.
/// </para>
/// </summary>
public sealed class ContinuousBatcher : IAsyncDisposable
{
    private readonly GptModel _model;
    private readonly ITokenizer _tokenizer;
    private readonly BatcherOptions _options;
    private readonly BatcherMetrics? _metrics;
    private readonly TagList _tags;
    private readonly Channel<GenerationHandle> _queue;
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _accepting = true;
    private volatile Exception? _fault;
    private int _queued;
    private int _disposed;
    private long _decodeSteps;
    private long _decodedTokens;
    private readonly AdaptiveScheduler _scheduler;
    private readonly IDisposable? _observed;
    private long _arrivals;
    private long _queuedAtSum;
    private SchedulerState _state = SchedulerState.Idle;
    private long _prefillPositions;
    private long _prefillTicks;
    private long _decodeTicks;
    private long _prefixCacheQueries;
    private long _prefixCacheHits;
    private PrefixCache? _prefixes; // the engine thread's, like the slot cache

    /// <param name="model">The model; the batcher's engine thread is its only user.</param>
    /// <param name="tokenizer">Decodes tokens for stop sequences and results.</param>
    /// <param name="options">Batch size, queue size and queue delay.</param>
    /// <param name="metrics">Where to record queue time, latencies and batch sizes (optional).</param>
    /// <param name="tags">Tags for every measurement, such as the model and version.</param>
    public ContinuousBatcher(GptModel model, ITokenizer tokenizer, BatcherOptions options, BatcherMetrics? metrics = null, TagList tags = default)
    {
        _model = model;
        _tokenizer = tokenizer;
        _options = options.Validate();
        _metrics = metrics;
        _tags = tags;
        _queue = Channel.CreateBounded<GenerationHandle>(new BoundedChannelOptions(options.MaxQueueSize)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails instead of waiting
        });
        _scheduler = new AdaptiveScheduler(options.MaxBatchSize, options.Targets, TimeProvider.System);
        _observed = metrics?.Observe(() => State, tags);
        var engine = new Thread(RunEngine) { IsBackground = true, Name = "msswift-batcher" };
        engine.Start();
    }

    /// <summary>Requests waiting for a slot.</summary>
    public int QueuedCount => Volatile.Read(ref _queued);

    /// <summary>Decode steps run (executions) and tokens they produced (inferences), for average batch size.</summary>
    public long DecodeSteps => Interlocked.Read(ref _decodeSteps);

    public long DecodedTokens => Interlocked.Read(ref _decodedTokens);

    /// <summary>Running and waiting sequences, KV cache use and the chosen batch, as of the engine's latest iteration.</summary>
    public SchedulerState State => Volatile.Read(ref _state) with { Waiting = QueuedCount };

    /// <summary>The batch the scheduler steers to (<see cref="SchedulerDecision.ChosenBatchSize"/>); the slots under the fixed policy.</summary>
    public int ChosenBatchSize => State.ChosenBatchSize;

    /// <summary>The cap on running sequences (a latency target lowers it below the slots).</summary>
    public int BatchLimit => _options.Adaptive ? _scheduler.BatchLimit : _options.MaxBatchSize;
    /// <summary>Prompt positions prefills computed (padding not counted); a prefix-cache hit is not computed.</summary>
    public long PrefillPositions => Interlocked.Read(ref _prefillPositions);

    /// <summary>
    /// The engine's time in prefills (admissions: prefix lookup, forward, slot copies, storing
    /// prefixes) and in decode steps: where its time goes, and with <see cref="DecodeSteps"/> what a step costs.
    /// </summary>
    public TimeSpan PrefillTime => TimeSpan.FromTicks(Interlocked.Read(ref _prefillTicks));

    public TimeSpan DecodeTime => TimeSpan.FromTicks(Interlocked.Read(ref _decodeTicks));

    /// <summary>Prompt tokens looked up in the prefix cache, and those found there (vLLM's prefix_cache_queries / _hits).</summary>
    public long PrefixCacheQueries => Interlocked.Read(ref _prefixCacheQueries);

    public long PrefixCacheHits => Interlocked.Read(ref _prefixCacheHits);

    /// <summary>Why the engine stopped on its own, or null while it runs (or after a normal stop).</summary>
    public Exception? Fault => _fault;

    /// <summary>Completes (never faults) once the engine has stopped and every request has ended.</summary>
    public Task Stopped => _stopped.Task;

    /// <summary>
    /// Queues a request. Throws <see cref="ArgumentException"/> for an invalid request,
    /// <see cref="QueueFullException"/> when the queue is full, and <see cref="BatcherClosedException"/>
    /// once the batcher is stopping or has faulted. Cancelling <paramref name="cancellationToken"/> ends the request.
    /// </summary>
    public GenerationHandle Submit(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        Sequence.Validate(request, _model.Config);
        if (!_accepting)
        {
            throw Closed();
        }

        var handle = new GenerationHandle(request, cancellationToken);
        Interlocked.Increment(ref _queued);
        Interlocked.Add(ref _queuedAtSum, handle.QueuedAt);
        if (!_queue.Writer.TryWrite(handle))
        {
            Interlocked.Decrement(ref _queued);
            Interlocked.Add(ref _queuedAtSum, -handle.QueuedAt);
            // A completed queue refuses writes too: that is a closed batcher, not a full queue.
            throw _accepting ? new QueueFullException(_options.MaxQueueSize) : Closed();
        }

        Interlocked.Increment(ref _arrivals);
        _metrics?.Pending.Add(1, _tags);
        return handle;
    }

    /// <summary>Stops taking requests and completes when every queued and running one has finished.</summary>
    public Task DrainAsync()
    {
        _accepting = false;
        _queue.Writer.TryComplete();
        return _stopped.Task;
    }

    /// <summary>Stops at once: running and queued requests fail.</summary>
    public async ValueTask DisposeAsync()
    {
        _accepting = false;
        _queue.Writer.TryComplete();
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _abort.CancelAsync();
            await _stopped.Task;
            _abort.Dispose();
        }

        await _stopped.Task;
    }

    private void RunEngine()
    {
        var slots = new Sequence?[_options.MaxBatchSize];
        var handles = new GenerationHandle?[_options.MaxBatchSize];
        Exception stopped = new GenerationException(GenerationFailure.Unavailable, "the model version was unloaded before this request finished; retry");
        try
        {
            using var inference = inference_mode();
            using var cache = new SlotKvCache(_model.Config, _options.MaxBatchSize, _model.Device, _model.DType);
            using var prefixes = _options.PrefixCacheBytes > 0 ? new PrefixCache(_model.Config, _options.PrefixCacheBytes, _model.DType) : null;
            _prefixes = prefixes;
            while (!_abort.IsCancellationRequested)
            {
                if (cache.ActiveRows == 0 && !WaitForWork())
                {
                    break;
                }

                Admit(cache, slots, handles);
                if (cache.ActiveRows > 0)
                {
                    var (rows, positions) = (cache.ActiveRows, Measure(cache, slots));
                    var started = TimeProvider.System.GetTimestamp();
                    DecodeStep(cache, slots, handles);
                    var elapsed = TimeProvider.System.GetElapsedTime(started);
                    _scheduler.ObserveDecode(rows, positions, elapsed);
                    CountEngineTime(ref _decodeTicks, elapsed, BatcherMetrics.DecodePhase);
                    Measure(cache, slots);
                }
            }
        }
        catch (Exception error)
        {
            // The forward pass itself failed: close first, so no request can slip in behind the drain below.
            _fault = error;
            _accepting = false;
            _queue.Writer.TryComplete();
            stopped = new GenerationException(GenerationFailure.Unavailable,
                $"the model version's engine failed ({error.GetType().Name}: {error.Message}) and is being restarted; retry", error);
        }
        finally
        {
            foreach (var sequence in slots)
            {
                sequence?.Sampler.Dispose();
            }

            FailAll(handles, stopped);
            while (TryDequeue(out var waiting))
            {
                Fail(waiting, stopped);
            }

            Volatile.Write(ref _state, SchedulerState.Idle);
            _observed?.Dispose();
            _stopped.TrySetResult();
        }
    }

    private BatcherClosedException Closed() => _fault is { } fault
        ? new BatcherClosedException($"the model version's engine failed and is being restarted: {fault.Message}", fault)
        : new BatcherClosedException("the model version is being unloaded; it takes no new requests");

    /// <summary>Blocks while idle; false once the queue is completed and empty (drained) or aborted.</summary>
    private bool WaitForWork()
    {
        try
        {
            if (!_queue.Reader.WaitToReadAsync(_abort.Token).AsTask().GetAwaiter().GetResult())
            {
                return false;
            }

            if (_options.MaxQueueDelay > TimeSpan.Zero)
            {
                var deadline = TimeProvider.System.GetTimestamp();
                while (_queue.Reader.Count < _options.MaxBatchSize && TimeProvider.System.GetElapsedTime(deadline) < _options.MaxQueueDelay)
                {
                    Thread.Sleep(1);
                }
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// Prefills waiting requests together (one left-padded forward) and gives each a free slot,
    /// as many and as soon as the scheduler decides (<see cref="Admissions"/>).
    /// </summary>
    private void Admit(SlotKvCache cache, Sequence?[] slots, GenerationHandle?[] handles)
    {
        var take = Admissions(cache, slots);
        var admitted = new List<GenerationHandle>();
        while (admitted.Count < take && TryDequeue(out var handle))
        {
            if (handle.CancellationToken.IsCancellationRequested)
            {
                Fail(handle, new OperationCanceledException(handle.CancellationToken));
                continue;
            }

            var queued = handle.Admit();
            _metrics?.QueueTime.Record(queued.TotalSeconds, _tags);
            admitted.Add(handle);
        }

        if (admitted.Count == 0)
        {
            return;
        }

        try
        {
            var started = TimeProvider.System.GetTimestamp();
            Prefill(cache, slots, handles, admitted);
            var elapsed = TimeProvider.System.GetElapsedTime(started);
            _scheduler.ObservePrefill(admitted.Count, admitted.Count * (long)admitted.Max(handle => handle.Request.Prompt.Count), elapsed);
            CountEngineTime(ref _prefillTicks, elapsed, BatcherMetrics.PrefillPhase);
        }
        catch (Exception error)
        {
            // The engine faults on this; the requests taken off the queue must not be forgotten.
            foreach (var handle in admitted)
            {
                Fail(handle, new GenerationException(GenerationFailure.Unavailable, $"the model version's engine failed ({error.Message}); retry", error));
            }

            throw;
        }
    }

    /// <summary>
    /// How many waiting requests to prefill now. Adaptive: the scheduler's decision from the load
    /// and measured step times. Fixed: whatever fits, except that under load it waits until a
    /// quarter of the slots are free, so one prefill serves several requests.
    /// </summary>
    private int Admissions(SlotKvCache cache, Sequence?[] slots)
    {
        var positions = Measure(cache, slots);
        var waiting = _queue.Reader.Count;
        if (!_options.Adaptive)
        {
            var fits = Math.Min(cache.FreeSlots, waiting);
            return fits == 0 || (cache.ActiveRows > 0 && fits < waiting && fits < Math.Max(1, _options.MaxBatchSize / 4)) ? 0 : fits;
        }

        var now = TimeProvider.System.GetTimestamp();
        var oldest = waiting > 0 && _queue.Reader.TryPeek(out var first) ? TimeProvider.System.GetElapsedTime(first.QueuedAt, now) : TimeSpan.Zero;
        var queued = Volatile.Read(ref _queued);
        var totalWait = TimeSpan.FromSeconds(Math.Max(0, (double)(queued * now - Interlocked.Read(ref _queuedAtSum)) / TimeProvider.System.TimestampFrequency));
        var running = Volatile.Read(ref _state).Running;
        var decision = _scheduler.Decide(new EngineLoad(running, positions, waiting, oldest, totalWait, Interlocked.Read(ref _arrivals)));
        Volatile.Write(ref _state, Volatile.Read(ref _state) with { ChosenBatchSize = decision.ChosenBatchSize });
        return Math.Min(decision.Admit, cache.FreeSlots);
    }

    /// <summary>Publishes the running sequences and KV cache use; returns the positions cached over all running sequences.</summary>
    private long Measure(SlotKvCache cache, Sequence?[] slots)
    {
        long positions = 0;
        var running = 0;
        for (var slot = 0; slot < slots.Length; slot++)
        {
            if (slots[slot] is not null)
            {
                running++;
                positions += cache.LengthOf(slot);
            }
        }

        var chosen = _options.Adaptive ? Volatile.Read(ref _state).ChosenBatchSize : _options.MaxBatchSize;
        Volatile.Write(ref _state, new SchedulerState(running, 0, (double)positions / ((long)cache.Slots * cache.Capacity), chosen));
        return positions;
    }

    private bool TryDequeue([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out GenerationHandle? handle)
    {
        if (!_queue.Reader.TryRead(out handle))
        {
            return false;
        }

        Interlocked.Decrement(ref _queued);
        Interlocked.Add(ref _queuedAtSum, -handle.QueuedAt);
        return true;
    }

    /// <summary>
    /// Prefills the admitted prompts, taking what the prefix cache holds of them, in one left-padded
    /// forward or a few (<see cref="PrefillPlan"/>), and gives each a slot; then keeps every
    /// prompt's full blocks for the requests that follow.
    /// </summary>
    private void Prefill(SlotKvCache cache, Sequence?[] slots, GenerationHandle?[] handles, List<GenerationHandle> admitted)
    {
        using var scope = NewDisposeScope();
        var computed = new List<(PrefillPlan Plan, KvCache Cache, bool[] Finite)>();
        try
        {
            foreach (var plan in PrefillPlan.Split(admitted.Select(handle => handle.Request).ToArray(), _prefixes))
            {
                var prefill = plan.CreateCache(_model, _prefixes);
                computed.Add((plan, prefill, []));
                var logits = _model.NextTokenLogits(plan.Tokens(_model.Device), prefill).to(float32).cpu();
                CountPrefill(plan.Rows.Length, plan.PromptTokens, plan.Reused);
                var (greedy, finite) = Summarise(logits);
                computed[^1] = (plan, prefill, finite);
                for (var row = 0; row < plan.Rows.Length; row++)
                {
                    var handle = admitted[plan.Rows[row]];
                    var sequence = new Sequence(handle.Request);
                    if (Step(sequence, handle, logits, row, greedy, finite, contextFull: prefill.Length - plan.Pads[row] >= cache.Capacity) is not StepOutcome.Running)
                    {
                        sequence.Sampler.Dispose();
                        continue;
                    }

                    var slot = cache.Admit(prefill, row, expectedLength: plan.Prompt(row).Count + handle.Request.Options.MaxNewTokens);
                    slots[slot] = sequence;
                    handles[slot] = handle;
                }
            }

            // Stored last: storing may evict blocks that a later forward of this admission copies from.
            foreach (var (plan, prefill, finite) in computed)
            {
                for (var row = 0; row < plan.Rows.Length; row++)
                {
                    if (finite[row])
                    {
                        _prefixes?.Store(plan.Prompt(row), prefill, row, (int)plan.Pads[row], plan.Root(row));
                    }
                }
            }
        }
        finally
        {
            computed.ForEach(entry => entry.Cache.Dispose());
        }
    }

    private void CountEngineTime(ref long ticks, TimeSpan elapsed, KeyValuePair<string, object?> phase)
    {
        Interlocked.Add(ref ticks, elapsed.Ticks);
        if (_metrics is not null)
        {
            var tags = _tags;
            tags.Add(phase);
            _metrics.EngineTime.Add(elapsed.TotalSeconds, tags);
        }
    }

    private void CountPrefill(int rows, long promptTokens, long reused)
    {
        Interlocked.Add(ref _prefillPositions, promptTokens - reused);
        _metrics?.Executions.Add(1, _tags);
        _metrics?.Inferences.Add(rows, _tags);
        if (_prefixes is not null)
        {
            Interlocked.Add(ref _prefixCacheQueries, promptTokens);
            Interlocked.Add(ref _prefixCacheHits, reused);
            _metrics?.PrefixCacheQueries.Add(promptTokens, _tags);
            _metrics?.PrefixCacheHits.Add(reused, _tags);
        }
    }

    private void DecodeStep(SlotKvCache cache, Sequence?[] slots, GenerationHandle?[] handles)
    {
        using var scope = NewDisposeScope();
        var occupied = cache.OccupiedSlots();
        var last = occupied.Select(slot => slots[slot]?.LastToken ?? 0L).ToArray();
        var logits = _model.DecodeSlots(tensor(last, [occupied.Length, 1], device: _model.Device), cache).select(1, 0).to(float32).cpu();
        var (greedy, finite) = Summarise(logits);
        var active = 0;
        for (var row = 0; row < occupied.Length; row++)
        {
            var slot = occupied[row];
            if (slots[slot] is not { } sequence || handles[slot] is not { } handle)
            {
                continue;
            }

            active++;
            var outcome = handle.CancellationToken.IsCancellationRequested
                ? Cancel(handle)
                : Step(sequence, handle, logits, row, greedy, finite, contextFull: cache.LengthOf(slot) >= cache.Capacity);
            if (outcome is not StepOutcome.Running)
            {
                sequence.Sampler.Dispose();
                slots[slot] = null;
                handles[slot] = null;
                // A row that went non-finite is scrubbed even when it ended for another reason (a cancel in the same step).
                cache.Release(slot, scrub: outcome is StepOutcome.Failed || !finite[row]);
            }
        }

        Interlocked.Increment(ref _decodeSteps);
        Interlocked.Add(ref _decodedTokens, active);
        _metrics?.Executions.Add(1, _tags);
        _metrics?.Inferences.Add(active, _tags);
    }

    /// <summary>
    /// One batch-wide argmax and finiteness check: per-row tensor calls would cost more than the step itself.
    /// </summary>
    private static (long[] Greedy, bool[] Finite) Summarise(Tensor logits) =>
        (logits.argmax(1).data<long>().ToArray(), logits.isfinite().all(1).data<bool>().ToArray());

    private enum StepOutcome
    {
        Running,
        Finished,
        Failed,
    }

    /// <summary>
    /// Picks and emits one row's next token. Whatever goes wrong here belongs to this sequence
    /// alone: it fails this request, and the caller frees (and scrubs) its slot.
    /// </summary>
    private StepOutcome Step(Sequence sequence, GenerationHandle handle, Tensor logits, int row, long[] greedy, bool[] finite, bool contextFull)
    {
        try
        {
            if (!finite[row])
            {
                throw new GenerationException(GenerationFailure.Internal, "the model produced non-finite logits for this sequence");
            }

            var token = sequence.Request.Options.IsGreedy ? (int)greedy[row] : sequence.Sampler.Sample(logits[row]);
            return Accept(sequence, handle, token, contextFull) ? StepOutcome.Finished : StepOutcome.Running;
        }
        catch (Exception error)
        {
            Fail(handle, error as GenerationException
                ?? new GenerationException(GenerationFailure.Internal, $"generating this sequence failed: {error.Message}", error));
            return StepOutcome.Failed;
        }
    }

    /// <summary>Emits the next token; true when the sequence has finished.</summary>
    private bool Accept(Sequence sequence, GenerationHandle handle, int token, bool contextFull)
    {
        sequence.Accept(token, _tokenizer, contextFull);
        if (sequence.Reason != FinishReason.EndOfText)
        {
            var first = handle.LastTokenAt == 0;
            var since = handle.Emit(token);
            if (_metrics is not null)
            {
                (first ? _metrics.TimeToFirstToken : _metrics.InterTokenLatency).Record(since.TotalSeconds, _tags);
                _metrics.TokensGenerated.Add(1, _tags);
            }
        }

        if (sequence.Finished && handle.Complete(sequence.ToResult(_tokenizer)))
        {
            _metrics?.Pending.Add(-1, _tags);
        }

        return sequence.Finished;
    }

    private StepOutcome Cancel(GenerationHandle handle)
    {
        Fail(handle, new OperationCanceledException(handle.CancellationToken));
        return StepOutcome.Finished;
    }

    private void Fail(GenerationHandle handle, Exception error)
    {
        if (handle.Fail(error))
        {
            _metrics?.Pending.Add(-1, _tags);
        }
    }

    private void FailAll(GenerationHandle?[] handles, Exception error)
    {
        for (var slot = 0; slot < handles.Length; slot++)
        {
            if (handles[slot] is { } handle)
            {
                Fail(handle, error);
                handles[slot] = null;
            }
        }
    }
}
