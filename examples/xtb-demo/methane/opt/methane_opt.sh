#!/bin/bash
#SBATCH --job-name=methane_opt
#SBATCH --ntasks=1
#SBATCH --time=10
# xTB geometry optimisation; ccbatch judges methane_opt.out.
export OMP_NUM_THREADS=1
xtb start.xyz --opt > methane_opt.out 2>&1
