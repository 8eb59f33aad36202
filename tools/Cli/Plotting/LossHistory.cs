namespace MsSwift.Cli.Plotting;

/// <summary>One reported loss: the optimizer step it was measured at and its value.</summary>
public sealed record LossPoint(long Step, double Loss);

/// <summary>The losses a training job has reported so far, in the order it reported them.</summary>
public sealed record LossHistory(string JobId, IReadOnlyList<LossPoint> Train, IReadOnlyList<LossPoint> Eval);
