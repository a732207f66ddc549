import { readFileSync } from 'node:fs';
import { isUnlearnError } from '@unlearnjs/core';
import { describe, expect, it } from 'vitest';
import { type FeatureMatrix, createSvmClassifier } from '@unlearnjs/eval-mia';

interface Case {
  name: string;
  C: number;
  gamma: number | null;
  xTrain: number[][];
  yTrain: number[];
  xTest: number[][];
  expected: number[];
  numSupportVectors: number;
}

// Produced once by scikit-learn (see fixtures/make-svm-fixtures.py, which states how).
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/svm-fixtures.json', import.meta.url), 'utf8')) as {
  sklearn: string;
  cases: Case[];
};

function matrix(rows: number[][]): FeatureMatrix {
  const cols = rows[0].length;
  return { data: Float64Array.from(rows.flat()), rows: rows.length, cols };
}

describe('SvmClassifier (libsvm) against scikit-learn SVC', () => {
  for (const c of fixtures.cases) {
    it(`predicts like sklearn ${fixtures.sklearn} on "${c.name}"`, async () => {
      const svm = await createSvmClassifier({ C: c.C, ...(c.gamma === null ? {} : { gamma: c.gamma }) });
      try {
        svm.train(matrix(c.xTrain), c.yTrain);
        expect(svm.gamma).toBeCloseTo(c.gamma ?? 1 / c.xTrain[0].length, 12);
        expect(Array.from(svm.predict(matrix(c.xTest)))).toEqual(c.expected);
        expect(svm.numSupportVectors).toBe(c.numSupportVectors);
      } finally {
        svm.dispose();
      }
    });
  }

  it('does not depend on the order of the training rows', async () => {
    const c = fixtures.cases.find((k) => k.name === 'confidence-like') as Case;
    const reversed = [...c.xTrain.keys()].reverse();
    const svm = await createSvmClassifier({ C: 3 });
    try {
      svm.train(
        matrix(reversed.map((i) => c.xTrain[i])),
        reversed.map((i) => c.yTrain[i]),
      );
      expect(Array.from(svm.predict(matrix(c.xTest)))).toEqual(c.expected);
    } finally {
      svm.dispose();
    }
  });

  it('refuses bad input with coded errors', async () => {
    await expect(createSvmClassifier({ C: 0 })).rejects.toSatisfy((e) => isUnlearnError(e, 'UNLEARN_INVALID_OPTIONS'));
    const svm = await createSvmClassifier();
    try {
      expect(() => svm.predict(matrix([[0]]))).toThrow(expect.objectContaining({ code: 'UNLEARN_INVALID_OPTIONS' }));
      expect(() => svm.train(matrix([[0], [1]]), [1, 1])).toThrow(expect.objectContaining({ code: 'UNLEARN_INVALID_OPTIONS' }));
      expect(() => svm.train(matrix([[0], [Number.NaN]]), [0, 1])).toThrow(expect.objectContaining({ code: 'UNLEARN_INVALID_OPTIONS' }));
      svm.train(matrix([[0], [1]]), [0, 1]);
      expect(() => svm.predict(matrix([[0, 1]]))).toThrow(expect.objectContaining({ code: 'UNLEARN_INVALID_OPTIONS' }));
    } finally {
      svm.dispose();
    }
  });
});
