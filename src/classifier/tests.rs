use linfa::prelude::*;
use linfa_bayes::{MultinomialNb, NaiveBayes};
use ndarray::{Array1, Array2};

use super::*;
use crate::text::normalize_content;

/// A small deterministic generator so the oracle data needs no extra crate.
fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

fn dense_params() -> NbParams {
    NbParams {
        features: FeatureConfig {
            bits: 8,
            ..FeatureConfig::default()
        },
        alpha: 1.0,
        length_power: 0.0,
        min_class_docs: 1,
    }
}

#[test]
fn naive_bayes_agrees_with_linfa_oracle() {
    // 40 documents over 12 features; spam favours the low features, ham the high ones.
    let (docs, features) = (40usize, 12usize);
    let mut state = 7u64;
    let mut x = Array2::<f64>::zeros((docs, features));
    let mut y = Array1::<usize>::zeros(docs);
    for d in 0..docs {
        let spam = d % 3 == 0;
        y[d] = usize::from(spam);
        for f in 0..features {
            let bias = if spam == (f < features / 2) { 4 } else { 2 };
            x[(d, f)] = (lcg(&mut state) % bias) as f64;
        }
        // Every feature occurs somewhere, so our vocabulary equals linfa's dense width.
        x[(d, d % features)] += 1.0;
    }
    let oracle = MultinomialNb::params()
        .alpha(1.0)
        .fit(&DatasetView::new(x.view(), y.view()))
        .unwrap();

    let mut model = NbModel::new(dense_params());
    for d in 0..docs {
        let buckets: Vec<u32> = (0..features)
            .flat_map(|f| std::iter::repeat_n(f as u32, x[(d, f)] as usize))
            .collect();
        model.learn(
            &buckets,
            if y[d] == 1 { Label::Spam } else { Label::Ham },
            1.0,
        );
    }

    let jll = oracle.joint_log_likelihood(x.view());
    let predicted: Array1<usize> = oracle.predict(&x);
    for d in 0..docs {
        let row: Vec<(u32, f64)> = (0..features).map(|f| (f as u32, x[(d, f)])).collect();
        let (spam, ham) = model.joint_log_likelihood(&row);
        assert!(
            (spam - jll[&1][d]).abs() < 1e-9,
            "doc {d}: spam {spam} vs {}",
            jll[&1][d]
        );
        assert!(
            (ham - jll[&0][d]).abs() < 1e-9,
            "doc {d}: ham {ham} vs {}",
            jll[&0][d]
        );
        let ours = usize::from(spam > ham);
        assert_eq!(ours, predicted[d], "doc {d}");
    }
}

#[test]
fn learning_then_unlearning_restores_the_model() {
    let mut model = NbModel::new(dense_params());
    model.learn(&[1, 2, 3], Label::Spam, 1.0);
    model.learn(&[3, 4], Label::Ham, 1.0);
    let kinds = [0u8; 3];
    let before = model.evidence(&[1, 4, 5], &kinds);
    model.learn(&[1, 9, 9], Label::Ham, 1.0);
    assert_ne!(model.evidence(&[1, 4, 5], &kinds), before);
    model.learn(&[1, 9, 9], Label::Ham, -1.0);
    assert_eq!(model.evidence(&[1, 4, 5], &kinds), before);
    assert_eq!(model.doc_counts(), (1, 1));
}

#[test]
fn too_few_examples_give_no_opinion() {
    let mut model = NbModel::new(NbParams {
        min_class_docs: 2,
        ..dense_params()
    });
    model.learn(&[1], Label::Spam, 1.0);
    model.learn(&[2], Label::Ham, 1.0);
    assert_eq!(model.predict(&[1], &[0]).probability, None);
    model.learn(&[1], Label::Spam, 1.0);
    model.learn(&[2], Label::Ham, 1.0);
    assert!(model
        .predict(&[1], &[0])
        .probability
        .is_some_and(|p| p > 0.5));
}

#[test]
fn artifact_round_trips_and_detects_corruption() {
    let trainer = Trainer::new(TrainOptions {
        params: NbParams {
            features: FeatureConfig {
                bits: 12,
                ..FeatureConfig::default()
            },
            ..NbParams::default()
        },
        // Three folds: with two, `index mod 2` would put every spam row in one fold.
        calibration_folds: 3,
    });
    let rows = [
        ("buy cheap pills now", Label::Spam),
        ("lovely recipe, thanks", Label::Ham),
    ];
    let docs: Vec<ExtractedDoc> = rows
        .iter()
        .cycle()
        .take(60)
        .map(|(t, l)| {
            let f = trainer.features_of(&Comment::from_text(*t, None), &normalize_content(t));
            ExtractedDoc {
                buckets: f.buckets().to_vec(),
                kinds: f.kinds().to_vec(),
                label: *l,
                weight: 1.0,
            }
        })
        .collect();
    let model = trainer.fit(&docs);
    let dir = tempfile::tempdir().unwrap();
    let manifest =
        artifact::write_model(&model, dir.path(), "h".into(), vec![], CvMetrics::default())
            .unwrap();
    let (loaded, m2) = ModelArtifact::read_dir(dir.path()).unwrap();
    assert_eq!(manifest, m2);
    let (b, k) = (&docs[0].buckets, &docs[0].kinds);
    assert_eq!(loaded.predict(b, k), model.predict(b, k));
    assert!(
        loaded.predict(b, k).probability.unwrap() > 0.5,
        "{:?} {:?}",
        loaded.predict(b, k),
        loaded.calibration()
    );

    let path = dir.path().join(MODEL_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        ModelArtifact::read_dir(dir.path()),
        Err(ArtifactError::HashMismatch { .. })
    ));
}

#[test]
fn strongest_tokens_point_both_ways() {
    let mut model = NbModel::new(NbParams {
        features: FeatureConfig {
            char_min: 0,
            ..dense_params().features
        },
        ..dense_params()
    });
    let config = model.params.features;
    let extract =
        |t: &str| Features::extract(&config, &normalize_content(t), AuthorFields::default());
    let spam = extract("free money subscribe");
    let ham = extract("thanks recipe lovely");
    for _ in 0..3 {
        model.learn(spam.buckets(), Label::Spam, 1.0);
        model.learn(ham.buckets(), Label::Ham, 1.0);
    }
    let f = extract("free recipe");
    let tokens = model.strongest_tokens(&f, 5);
    assert!(
        tokens.iter().any(|t| t.token == "w:free" && t.weight > 0.0),
        "{tokens:?}"
    );
    assert!(
        tokens
            .iter()
            .any(|t| t.token == "w:recipe" && t.weight < 0.0),
        "{tokens:?}"
    );
}

#[test]
fn asking_for_no_tokens_gives_none() {
    let model = NbModel::new(dense_params());
    let f = Features::extract(
        &model.params.features,
        &normalize_content("hello"),
        AuthorFields::default(),
    );
    assert!(model.strongest_tokens(&f, 0).is_empty());
}

#[test]
fn invalid_parameters_are_refused() {
    let ok = NbParams::default();
    assert!(ok.validate().is_ok());
    for bad in [
        NbParams { alpha: 0.0, ..ok },
        NbParams {
            alpha: f64::NAN,
            ..ok
        },
        NbParams {
            length_power: 9.0,
            ..ok
        },
        NbParams {
            features: FeatureConfig {
                char_max: 255,
                ..ok.features
            },
            ..ok
        },
        NbParams {
            features: FeatureConfig {
                bits: 30,
                ..ok.features
            },
            ..ok
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
    let dup = NbModel::from_sparse(
        dense_params(),
        (1, 1),
        Calibration::identity(),
        &[(3, 1.0, 0.0), (3, 1.0, 0.0)],
    );
    assert!(dup.is_err(), "repeated buckets are refused");
}
