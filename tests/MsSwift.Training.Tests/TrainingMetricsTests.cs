using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using MsSwift.Training.Jobs;
using MsSwift.Training.ParameterServer;

namespace MsSwift.Training.Tests;

/// <summary>The training meter's instruments, as a listener sees them.</summary>
public sealed class TrainingMetricsTests
{
    [Fact]
    public void Steps_and_evaluations_are_recorded_with_their_job_and_an_untimed_step_has_no_duration()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        var measurements = new List<(string Instrument, string? Unit, double Value, string? Job)>();
        using var listener = new MeterListener();
        // Only this factory's meter: other tests in the process create their own "MsSwift.Training".
        listener.InstrumentPublished = (instrument, meterListener) =>
        {
            if (instrument.Meter.Scope == meters && instrument.Meter.Name == WireMetrics.MeterName)
            {
                meterListener.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => measurements.Add((instrument.Name, instrument.Unit, value, Job(tags))));
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => measurements.Add((instrument.Name, instrument.Unit, value, Job(tags))));
        listener.Start();
        var metrics = new TrainingMetrics(meters);

        metrics.StepApplied("job-a", loss: 5.5, tokens: 256, sincePreviousStep: null);
        metrics.StepApplied("job-a", loss: 4.25, tokens: 128, sincePreviousStep: TimeSpan.FromMilliseconds(1500));
        metrics.StepApplied("job-b", loss: 3.0, tokens: 64, sincePreviousStep: TimeSpan.FromSeconds(2));
        metrics.Evaluated("job-a", loss: 4.75);

        (string Instrument, string? Unit, double Value, string? Job)[] expected =
        [
            ("msswift.training.loss", null, 5.5, "job-a"),
            ("msswift.training.tokens", "{token}", 256, "job-a"),
            ("msswift.training.steps", "{step}", 1, "job-a"),
            ("msswift.training.step.duration", "s", 1.5, "job-a"),
            ("msswift.training.loss", null, 4.25, "job-a"),
            ("msswift.training.tokens", "{token}", 128, "job-a"),
            ("msswift.training.steps", "{step}", 1, "job-a"),
            ("msswift.training.step.duration", "s", 2, "job-b"),
            ("msswift.training.loss", null, 3.0, "job-b"),
            ("msswift.training.tokens", "{token}", 64, "job-b"),
            ("msswift.training.steps", "{step}", 1, "job-b"),
            ("msswift.training.eval_loss", null, 4.75, "job-a"),
        ];
        Assert.Equal(expected, measurements);

        static string? Job(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == TrainingMetrics.JobTag)
                {
                    return tag.Value as string;
                }
            }

            return null;
        }
    }
}
