using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.ServiceDefaults.Errors;
using MsSwift.Training.Jobs;

namespace MsSwift.Training.Tests;

/// <summary>Whether a Train request may start from a registered version, and what it becomes: the rules on their own, no processes.</summary>
public sealed class FineTuneRulesTests
{
    private const string ParentConfig = """{"n_layer":1,"n_head":2,"n_embd":32,"n_positions":64,"vocab_size":256,"layer_norm_epsilon":1E-05}""";
    private static readonly DatasetInfo ByteDataset = new() { Name = "foxes", Tokenizer = "byte", VocabSize = 256 };

    [Fact]
    public void A_fine_tune_defaults_to_its_model_and_keeps_its_shape_open_until_the_version_fills_it()
    {
        var (request, violations) = TrainRequestDefaults.Apply(new TrainRequest { Dataset = "foxes", Workers = 1, InitFrom = new() { Model = "bard" } });

        var (adopted, version) = FineTuneRules.Adopt(request, Bard(), ByteDataset);

        Assert.Empty(violations);
        Assert.Equal("bard", request.Model);
        Assert.Equal(new ModelShape(), request.Shape);
        // No version named: the production one, pinned so a takeover or a later promote does not change it.
        Assert.Equal("v2", version.Version);
        Assert.Equal(new ModelVersionRef { Model = "bard", Version = "v2" }, adopted.InitFrom);
        Assert.Equal(new ModelShape { Layers = 1, Heads = 2, Width = 32, ContextLength = 64 }, adopted.Shape);
        Assert.Equal("", request.InitFrom.Version);
    }

    [Fact]
    public void A_shape_equal_to_the_versions_is_accepted_and_a_named_version_is_used()
    {
        var (request, _) = TrainRequestDefaults.Apply(new TrainRequest
        {
            Dataset = "foxes", Workers = 1, Model = "bard", InitFrom = new() { Model = "bard", Version = "v1" }, Shape = new() { Width = 32 },
        });

        var (adopted, version) = FineTuneRules.Adopt(request, Bard(), ByteDataset);

        Assert.Equal("v1", version.Version);
        Assert.Equal(64, adopted.Shape.ContextLength);
    }

    [Fact]
    public void Request_syntax_is_refused_per_field_before_the_registry_is_asked()
    {
        var (_, violations) = TrainRequestDefaults.Apply(new TrainRequest
        {
            Dataset = "foxes", Workers = 1, Model = "other", InitFrom = new() { Model = "bad name", Version = "v/1" },
        });

        Assert.Equal(["init_from.model", "init_from.version", "model"], violations.Select(violation => violation.Field).Order());
    }

    [Fact]
    public void Unknown_archived_or_unpromoted_versions_are_refused_with_init_from_version()
    {
        var unpromoted = Bard();
        unpromoted.ProductionVersion = "";

        Assert.Equal("init_from.version", Refusal(new() { Model = "bard", Version = "v9" }, Bard(), ByteDataset).Field);
        var archived = Refusal(new() { Model = "bard", Version = "v3" }, Bard(), ByteDataset);
        Assert.Equal("init_from.version", archived.Field);
        Assert.Contains("archived", archived.Description);
        Assert.Contains("no production version", Refusal(new() { Model = "bard" }, unpromoted, ByteDataset).Description);
    }

    [Fact]
    public void Another_tokenizer_another_shape_or_a_window_past_the_context_is_refused_naming_the_field()
    {
        var gpt2 = new DatasetInfo { Name = "foxes-bpe", Tokenizer = "gpt2", VocabSize = 50257 };
        var (wider, _) = TrainRequestDefaults.Apply(new TrainRequest { Dataset = "foxes", Workers = 1, InitFrom = new() { Model = "bard" }, Shape = new() { Width = 48, Layers = 1 } });
        var (longer, _) = TrainRequestDefaults.Apply(new TrainRequest { Dataset = "foxes", Workers = 1, InitFrom = new() { Model = "bard" }, Window = 128 });

        var tokenizer = Refusal(new() { Model = "bard" }, Bard(), gpt2);
        var shape = Assert.Single(Assert.Throws<ServiceException>(() => FineTuneRules.Adopt(wider, Bard(), ByteDataset)).Violations);
        var window = Assert.Single(Assert.Throws<ServiceException>(() => FineTuneRules.Adopt(longer, Bard(), ByteDataset)).Violations);

        Assert.Equal("dataset", tokenizer.Field);
        Assert.Contains("'gpt2'", tokenizer.Description);
        Assert.Equal("shape", shape.Field);
        Assert.EndsWith("(width 32, not 48)", shape.Description);
        Assert.Equal("window", window.Field);
    }

    [Fact]
    public void A_version_without_a_shape_training_can_build_is_refused()
    {
        var model = Bard();
        model.Versions[0].ConfigJson = "";
        model.Versions[1].ConfigJson = ParentConfig.Replace("1E-05", "1E-06", StringComparison.Ordinal);

        Assert.Equal("init_from.version", Refusal(new() { Model = "bard", Version = "v1" }, model, ByteDataset).Field);
        Assert.Equal("init_from.version", Refusal(new() { Model = "bard", Version = "v2" }, model, ByteDataset).Field);
    }

    /// <summary>bard: v1, v2 (production) and v3 (archived), all of the same byte-level shape.</summary>
    [Fact]
    public void An_int8_copy_is_refused_naming_the_version_it_was_made_from()
    {
        var model = Bard();
        var copy = Version("v1-int8", Stage.None);
        copy.Quantization = "int8";
        copy.ParentVersion = "v1";
        model.Versions.Add(copy);

        var refused = Refusal(new() { Model = "bard", Version = "v1-int8" }, model, ByteDataset);

        Assert.Equal("init_from.version", refused.Field);
        Assert.Contains("int8 copy", refused.Description);
        Assert.Contains("'v1'", refused.Description);
    }

    private static RegisteredModel Bard() => new()
    {
        Name = "bard",
        ProductionVersion = "v2",
        Versions =
        {
            Version("v1", Stage.None), Version("v2", Stage.Production), Version("v3", Stage.Archived),
        },
    };

    private static ModelVersion Version(string name, Stage stage) =>
        new() { Version = name, Stage = stage, ConfigJson = ParentConfig, Tokenizer = "byte", Checkpoint = $"bard/{name}/model.safetensors" };

    private static FieldViolation Refusal(ModelVersionRef source, RegisteredModel model, DatasetInfo dataset)
    {
        var (request, _) = TrainRequestDefaults.Apply(new TrainRequest { Dataset = dataset.Name, Workers = 1, InitFrom = source });
        var refused = Assert.Throws<ServiceException>(() => FineTuneRules.Adopt(request, model, dataset));
        Assert.Equal(ServiceError.InvalidArgument, refused.Error);
        return Assert.Single(refused.Violations);
    }
}
