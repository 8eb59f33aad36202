using MsSwift.Contracts.V1;
using MsSwift.Modeling.Gpt;
using MsSwift.Training.Jobs;

namespace MsSwift.Training.Tests;

public sealed class JobBudgetTests
{
    [Theory]
    [InlineData(1, 2, 32, 64, 256)]
    [InlineData(2, 4, 128, 64, 256)]
    [InlineData(3, 6, 48, 100, 50257)]
    public void The_parameter_count_is_the_models_own(int layers, int heads, int width, int context, int vocabulary)
    {
        var config = new GptConfig { Layers = layers, Heads = heads, Width = width, ContextLength = context, VocabSize = vocabulary };
        using var model = new GptModel(config);

        Assert.Equal(model.parameters().Sum(parameter => parameter.numel()), JobBudget.Parameters(config));
    }

    [Fact]
    public void A_micro_batch_larger_than_the_data_service_serves_is_refused_with_the_request()
    {
        var shape = new ModelShape { Layers = 1, Heads = 1, Width = 8, ContextLength = 4096 };
        var (_, fits) = TrainRequestDefaults.Apply(new TrainRequest { Dataset = "d", Workers = 1, BatchSize = 255, Window = 4095, Shape = shape });
        var (_, over) = TrainRequestDefaults.Apply(new TrainRequest { Dataset = "d", Workers = 1, BatchSize = 257, Window = 4095, Shape = shape });

        Assert.DoesNotContain(fits, violation => violation.Field == "batch_size");
        Assert.Contains(over, violation => violation.Field == "batch_size" && violation.Description.Contains("1048576", StringComparison.Ordinal));
    }

    [Fact]
    public void The_estimate_grows_with_the_batch_and_the_workers_and_fits_the_default_cap_for_the_default_job()
    {
        var config = new GptConfig { Layers = 2, Heads = 4, Width = 128, ContextLength = 256, VocabSize = 50257 };
        var request = new TrainRequest { Workers = 2, BatchSize = 8, Window = 64 };
        var larger = request.Clone();
        larger.BatchSize = 64;
        var wider = request.Clone();
        wider.Workers = 16;

        var estimate = JobBudget.EstimatedBytes(request, config);

        Assert.True(JobBudget.EstimatedBytes(larger, config) > estimate);
        Assert.True(JobBudget.EstimatedBytes(wider, config) > estimate);
        Assert.Empty(JobBudget.Check(request, config, new TrainingOptions()));
    }
}
