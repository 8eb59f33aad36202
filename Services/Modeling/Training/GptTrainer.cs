using MsSwift.Modeling.Gpt;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MsSwift.Modeling.Training;

/// <summary>
/// Trains a <see cref="GptModel"/> with AdamW, warmup + cosine learning rate, global gradient-norm
/// clipping and gradient accumulation. In <see cref="TrainingPrecision.Bf16Mixed"/> a bfloat16
/// copy runs forward and backward while the given model keeps the fp32 master weights, gradients
/// and optimizer state; the copy is refreshed from the master after every step.
/// Each micro-batch runs in its own dispose scope, so no step leaves tensors behind.
/// </summary>
public sealed class GptTrainer : IDisposable
{
    private readonly GptModel _master;
    private readonly GptModel? _compute;
    private readonly TrainingHyperparameters _hyperparameters;
    private readonly AdamW _optimizer;
    private readonly Parameter[] _masterParameters;
    private readonly Parameter[] _computeParameters;

    public GptTrainer(GptModel model, TrainingHyperparameters hyperparameters)
    {
        if (model.IsInt8)
        {
            throw new ArgumentException("an int8 model cannot be trained; train the fp32 model and quantize it afterwards", nameof(model));
        }

        _master = model;
        _hyperparameters = hyperparameters.Validate();
        _master.train();
        _masterParameters = _master.parameters().ToArray();
        if (hyperparameters.Precision == TrainingPrecision.Bf16Mixed)
        {
            _compute = new GptModel(model.Config);
            _compute.to(model.Device);
            _compute.to(bfloat16);
            _compute.train();
            _computeParameters = _compute.parameters().ToArray();
            CopyMasterToCompute();
        }
        else
        {
            _computeParameters = _masterParameters;
        }

        // Matrices and embeddings decay; biases and LayerNorm gains do not.
        var named = _master.named_parameters().ToList();
        var decayed = named.Where(entry => entry.parameter.dim() >= 2).Select(entry => entry.parameter).ToList();
        var plain = named.Where(entry => entry.parameter.dim() < 2).Select(entry => entry.parameter).ToList();
        _optimizer = optim.AdamW(
            [
                new AdamW.ParamGroup(decayed, hyperparameters.LearningRate, hyperparameters.Beta1, hyperparameters.Beta2, hyperparameters.Epsilon, hyperparameters.WeightDecay, false, false),
                new AdamW.ParamGroup(plain, hyperparameters.LearningRate, hyperparameters.Beta1, hyperparameters.Beta2, hyperparameters.Epsilon, 0.0, false, false),
            ],
            hyperparameters.LearningRate, hyperparameters.Beta1, hyperparameters.Beta2, hyperparameters.Epsilon, hyperparameters.WeightDecay);
    }

    /// <summary>Optimizer steps taken so far.</summary>
    public int Step { get; private set; }

    public GptModel Model => _master;

    /// <summary>
    /// One optimizer step over <see cref="TrainingHyperparameters.AccumulationSteps"/> micro-batches
    /// of equal shape: their gradients add up to the gradient of one batch that many times larger.
    /// </summary>
    public TrainStepResult TrainStep(IReadOnlyList<TokenBatch> microBatches)
    {
        if (microBatches.Count != _hyperparameters.AccumulationSteps)
        {
            throw new ArgumentException($"expected {_hyperparameters.AccumulationSteps} micro-batches (AccumulationSteps), got {microBatches.Count}", nameof(microBatches));
        }

        var loss = ComputeGradients(microBatches);
        return ApplyGradients(loss, microBatches.Sum(batch => batch.TokenCount));
    }

    /// <summary>
    /// The optimizer half of a step: clips the gradient on the master parameters (left there by
    /// <see cref="ComputeGradients"/>, or by a parameter server that averaged workers' gradients),
    /// applies AdamW at the scheduled learning rate, and counts the step.
    /// </summary>
    public TrainStepResult ApplyGradients(double loss, long tokens)
    {
        var gradientNorm = ClipGradients();
        var learningRate = _hyperparameters.LearningRateAt(Step);
        foreach (var group in _optimizer.ParamGroups)
        {
            group.LearningRate = learningRate;
        }

        _optimizer.step();
        if (_compute is not null)
        {
            CopyMasterToCompute();
        }

        Step++;
        return new TrainStepResult(Step, loss, gradientNorm, learningRate, tokens);
    }

    /// <summary>Writes the optimizer's state (AdamW moments and step counts), to resume exactly where it stopped.</summary>
    public void SaveOptimizerState(Stream stream)
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        _optimizer.save_state_dict(writer);
    }

    /// <summary>Restores what <see cref="SaveOptimizerState"/> wrote, and the step count the learning-rate schedule follows.</summary>
    public void RestoreState(Stream optimizerState, int step)
    {
        using var reader = new BinaryReader(optimizerState, System.Text.Encoding.UTF8, leaveOpen: true);
        _optimizer.load_state_dict(reader);
        Step = step;
    }

    /// <summary>Replaces the parameters (e.g. with ones pulled from a parameter server); the bf16 compute copy follows.</summary>
    public void SetParameters(ReadOnlySpan<float> flat)
    {
        ParameterVector.Write(_masterParameters, flat);
        if (_compute is not null)
        {
            CopyMasterToCompute();
        }
    }

    /// <summary>Sets (rather than computes) the master parameters' gradient, e.g. an average from data-parallel workers.</summary>
    public void SetGradients(ReadOnlySpan<float> flat) => ParameterVector.WriteGradients(_masterParameters, flat);

    /// <summary>The master parameters' current gradient as one flat vector.</summary>
    public float[] GetGradients() => ParameterVector.ReadGradients(_masterParameters);

    /// <summary>
    /// Zeroes the gradients, then runs forward and backward over every micro-batch, leaving the
    /// accumulated (mean) gradient on the fp32 master parameters. Returns the mean loss.
    /// </summary>
    public double ComputeGradients(IReadOnlyList<TokenBatch> microBatches)
    {
        ArgumentOutOfRangeException.ThrowIfZero(microBatches.Count);
        _optimizer.zero_grad();
        _compute?.zero_grad();
        var model = _compute ?? _master;
        var total = 0.0;
        foreach (var batch in microBatches)
        {
            using var scope = NewDisposeScope();
            var loss = Loss(model, batch);
            (loss / microBatches.Count).backward();
            total += loss.item<float>();
        }

        if (_compute is not null)
        {
            CopyComputeGradientsToMaster();
        }

        return total / microBatches.Count;
    }

    /// <summary>Mean loss per token over <paramref name="batches"/>, and perplexity = e^loss, with the model being trained.</summary>
    public EvaluationResult Evaluate(IEnumerable<TokenBatch> batches)
    {
        var model = _compute ?? _master;
        try
        {
            return Evaluate(model, batches);
        }
        finally
        {
            model.train();
        }
    }

    /// <summary>
    /// Mean loss per token of <paramref name="model"/> over <paramref name="batches"/>, without
    /// gradients and in eval mode (the model is left there), and perplexity = e^loss.
    /// </summary>
    public static EvaluationResult Evaluate(GptModel model, IEnumerable<TokenBatch> batches)
    {
        model.eval();
        using var _ = no_grad();
        double weighted = 0;
        long tokens = 0;
        foreach (var batch in batches)
        {
            using var scope = NewDisposeScope();
            weighted += Loss(model, batch).item<float>() * batch.TokenCount;
            tokens += batch.TokenCount;
        }

        var loss = weighted / Math.Max(1, tokens);
        return new EvaluationResult(loss, Math.Exp(loss), tokens);
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _compute?.Dispose();
    }

    private static Tensor Loss(GptModel model, TokenBatch batch)
    {
        var logits = model.forward(batch.Inputs.to(model.Device));
        return functional.cross_entropy(
            logits.view(-1, logits.shape[^1]).to(float32),
            batch.Targets.to(model.Device).reshape(-1));
    }

    private double ClipGradients()
    {
        using var scope = NewDisposeScope();
        var withGradients = _masterParameters.Where(parameter => parameter.grad is not null).ToList();
        if (_hyperparameters.GradientClipNorm > 0)
        {
            return nn.utils.clip_grad_norm_(withGradients, _hyperparameters.GradientClipNorm);
        }

        return withGradients.Select(parameter => parameter.grad!.pow(2).sum()).Aggregate((a, b) => a + b).sqrt().item<float>();
    }

    private void CopyMasterToCompute()
    {
        using var _ = no_grad();
        for (var i = 0; i < _masterParameters.Length; i++)
        {
            _computeParameters[i].copy_(_masterParameters[i]);
        }
    }

    private void CopyComputeGradientsToMaster()
    {
        using var _ = no_grad();
        for (var i = 0; i < _masterParameters.Length; i++)
        {
            // Wrappers held until the native calls return (see ParameterVector.WriteGradients).
            using var gradient = _computeParameters[i].grad;
            if (gradient is not null)
            {
                using var master = gradient.to(float32);
                _masterParameters[i].grad = master;
            }
        }
    }
}
